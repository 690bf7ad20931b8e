def execute_command(image):
    # Question: Is the circle closer to the camera than the triangle?
    image_patch = ImagePatch(image)
    circle_patches = image_patch.find("circle")
    triangle_patches = image_patch.find("triangle")
    if len(circle_patches) == 0 or len(triangle_patches) == 0:
        return "no"
    # smaller depth means closer to the camera
    circle_depth = circle_patches[0].compute_depth()
    triangle_depth = triangle_patches[0].compute_depth()
    return bool_to_yesno(circle_depth < triangle_depth)
