def execute_command(image):
    # Question: How many triangles are below the sign?
    # Answer with a number (0 if none), or "N/A" if there is no sign.
    image_patch = ImagePatch(image)
    sign_patches = image_patch.find("sign")
    if len(sign_patches) == 0:
        return "N/A"
    sign_patch = sign_patches[0]
    triangle_patches = image_patch.find("triangle")
    # below: a smaller vertical_center (y grows upwards)
    below = [t for t in triangle_patches if t.vertical_center < sign_patch.vertical_center]
    return str(len(below))
