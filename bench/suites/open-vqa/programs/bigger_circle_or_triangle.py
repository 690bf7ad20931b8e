def execute_command(image):
    # Question: Which is bigger, the circle or the triangle?
    # Answer "circle" or "triangle", or "N/A" if one of them is missing.
    image_patch = ImagePatch(image)
    circle_patches = image_patch.find("circle")
    triangle_patches = image_patch.find("triangle")
    if len(circle_patches) == 0 or len(triangle_patches) == 0:
        return "N/A"
    circle_patch = circle_patches[0]
    triangle_patch = triangle_patches[0]
    # compare the areas of the boxes
    circle_area = circle_patch.width * circle_patch.height
    triangle_area = triangle_patch.width * triangle_patch.height
    if circle_area > triangle_area:
        return "circle"
    return "triangle"
