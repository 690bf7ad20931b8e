def execute_command(image):
    image_patch = ImagePatch(image)
    chairs = image_patch.find("chair")
    if not chairs:
        return image_patch
    chairs.sort(key=lambda c: c.horizontal_center)
    return max(chairs, key=lambda c: c.compute_depth())
